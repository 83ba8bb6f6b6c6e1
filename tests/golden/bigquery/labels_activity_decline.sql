SELECT
  `t2`.`customer_id`,
  IF(`t2`.`act_after` < (
    `t2`.`act_before` * 0.8
  ), 1, 0) AS `label`
FROM (
  SELECT
    `t1`.`customer_id`,
    COALESCE(
      SUM(
        IF(
          (
            `t1`.`event_time` >= DATETIME('2019-12-02T00:00:00')
          )
          AND (
            `t1`.`event_time` < DATETIME('2020-01-01T00:00:00')
          )
          AND (
            `t1`.`event_type` = 'purchase'
          ),
          `t1`.`amount`,
          NULL
        )
      ),
      0
    ) AS `act_before`,
    COALESCE(
      SUM(
        IF(
          (
            `t1`.`event_time` >= DATETIME('2020-01-01T00:00:00')
          )
          AND (
            `t1`.`event_time` < DATETIME('2020-01-31T00:00:00')
          )
          AND (
            `t1`.`event_type` = 'purchase'
          ),
          `t1`.`amount`,
          NULL
        )
      ),
      0
    ) AS `act_after`
  FROM (
    SELECT
      *
    FROM `events` AS `t0`
    WHERE
      `t0`.`event_time` >= DATETIME('2019-12-02T00:00:00')
      AND `t0`.`event_time` < DATETIME('2020-01-31T00:00:00')
  ) AS `t1`
  GROUP BY
    1
) AS `t2`
WHERE
  `t2`.`act_before` > 0
