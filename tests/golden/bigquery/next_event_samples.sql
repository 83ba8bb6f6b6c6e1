SELECT
  *
FROM (
  SELECT
    COALESCE(`t1`.`_code`, 0) AS `type_0`,
    COALESCE(
      `t1`.`_t` - LAG(`t1`.`_t`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      -1
    ) AS `gap_0`,
    COALESCE(`t1`.`amount`, 0.0) AS `price_0`,
    COALESCE(`t1`.`brand`, '') AS `brand_0`,
    COALESCE(`t1`.`category`, '') AS `category_0`,
    COALESCE(
      LAG(`t1`.`_code`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      0
    ) AS `type_1`,
    COALESCE(
      LAG(`t1`.`_t`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ) - LAG(`t1`.`_t`, 2) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      -1
    ) AS `gap_1`,
    COALESCE(
      LAG(`t1`.`amount`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      0.0
    ) AS `price_1`,
    COALESCE(
      LAG(`t1`.`brand`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      ''
    ) AS `brand_1`,
    COALESCE(
      LAG(`t1`.`category`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      ''
    ) AS `category_1`,
    COALESCE(
      LAG(`t1`.`_code`, 2) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      0
    ) AS `type_2`,
    COALESCE(
      LAG(`t1`.`_t`, 2) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ) - LAG(`t1`.`_t`, 3) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      -1
    ) AS `gap_2`,
    COALESCE(
      LAG(`t1`.`amount`, 2) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      0.0
    ) AS `price_2`,
    COALESCE(
      LAG(`t1`.`brand`, 2) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      ''
    ) AS `brand_2`,
    COALESCE(
      LAG(`t1`.`category`, 2) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      ''
    ) AS `category_2`,
    IF(
      COALESCE(
        LOGICAL_OR(`t1`.`event_type` = 'purchase') OVER (
          PARTITION BY `t1`.`session_id`
          ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
          ROWS BETWEEN 1 following AND UNBOUNDED FOLLOWING
        ),
        FALSE
      ),
      1,
      0
    ) AS `purchase_later`,
    `t1`.`customer_id`,
    EXTRACT(hour FROM `t1`.`event_time`) AS `hour`,
    MOD(EXTRACT(dayofweek FROM `t1`.`event_time`) + 5, 7) AS `weekday`,
    EXTRACT(month FROM `t1`.`event_time`) AS `month`,
    (
      ROW_NUMBER() OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ) - 1
    ) + 1 AS `position`,
    COALESCE(
      LEAD(`t1`.`event_type`, 1) OVER (
        PARTITION BY `t1`.`session_id`
        ORDER BY `t1`.`event_time` ASC, `t1`.`event_type` ASC
      ),
      'end'
    ) AS `target`,
    `t1`.`session_id`,
    `t1`.`event_time`
  FROM (
    SELECT
      `t0`.`customer_id`,
      `t0`.`event_time`,
      `t0`.`event_type`,
      `t0`.`amount`,
      `t0`.`quantity`,
      `t0`.`price`,
      `t0`.`order_id`,
      `t0`.`session_id`,
      `t0`.`product_id`,
      `t0`.`brand`,
      `t0`.`category`,
      CASE `t0`.`event_type`
        WHEN 'view'
        THEN 1
        WHEN 'cart'
        THEN 2
        WHEN 'remove_from_cart'
        THEN 3
        WHEN 'purchase'
        THEN 4
        ELSE 0
      END AS `_code`,
      UNIX_SECONDS(`t0`.`event_time`) AS `_t`
    FROM `events` AS `t0`
    WHERE
      `t0`.`session_id` IS NOT NULL
      AND `t0`.`event_type` IN ('view', 'cart', 'remove_from_cart', 'purchase')
  ) AS `t1`
) AS `t2`
WHERE
  `t2`.`event_time` >= DATETIME('2019-12-25T00:00:00')
  AND `t2`.`event_time` < DATETIME('2020-01-01T00:00:00')
