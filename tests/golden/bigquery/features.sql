WITH `t4` AS (
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
    ieee_divide(CAST(1577836800 - UNIX_SECONDS(`t0`.`event_time`) AS FLOAT64), 86400) AS `_age`,
    TIMESTAMP_TRUNC(`t0`.`event_time`, DAY) AS `_day`,
    `t0`.`event_type` = 'purchase' AS `_buy`
  FROM `events` AS `t0`
  WHERE
    `t0`.`event_time` < DATETIME('2020-01-01T00:00:00')
)
SELECT
  `t40`.*
  EXCEPT (`customer_id_right`)
FROM (
  SELECT
    `t39`.`customer_id`,
    `t39`.`n_events`,
    `t39`.`tenure_days`,
    `t39`.`recency_days`,
    `t39`.`n_purchase_events`,
    `t39`.`purchase_recency_days`,
    `t39`.`purchase_tenure_days`,
    `t39`.`quantity`,
    `t39`.`spend`,
    `t39`.`max_order_line`,
    `t39`.`n_returns`,
    `t39`.`events_7d`,
    `t39`.`spend_7d`,
    `t39`.`events_30d`,
    `t39`.`spend_30d`,
    `t39`.`events_90d`,
    `t39`.`spend_90d`,
    `t39`.`n_view`,
    `t39`.`n_cart`,
    `t39`.`n_remove_from_cart`,
    `t39`.`n_purchase`,
    `t39`.`weekend_share`,
    `t39`.`hour_night_share`,
    `t39`.`hour_morning_share`,
    `t39`.`hour_afternoon_share`,
    `t39`.`hour_evening_share`,
    `t39`.`distinct_products`,
    `t39`.`distinct_brands`,
    `t39`.`distinct_categories`,
    `t39`.`active_days`,
    `t39`.`purchase_days`,
    `t39`.`n_orders`,
    `t39`.`orders_7d`,
    `t39`.`orders_30d`,
    `t39`.`orders_90d`,
    `t39`.`avg_order_value`,
    `t39`.`return_share`,
    `t39`.`trend_events`,
    `t39`.`trend_orders`,
    `t39`.`events_per_active_day`,
    `t39`.`share_view`,
    `t39`.`share_cart`,
    `t39`.`share_remove_from_cart`,
    `t39`.`share_purchase`,
    `t39`.`cart_per_view`,
    `t39`.`purchase_per_cart`,
    `t39`.`purchase_per_view`,
    `t39`.`gap_mean_days`,
    `t39`.`gap_std_days`,
    `t39`.`last_gap_days`,
    `t39`.`recency_over_gap`,
    `t39`.`n_sessions`,
    `t39`.`events_per_session`,
    `t39`.`session_minutes_mean`,
    `t39`.`session_minutes_max`,
    `t39`.`session_conversion`,
    `t25`.`customer_id` AS `customer_id_right`,
    `t25`.`seq_m0_events`,
    `t25`.`seq_m0_active_days`,
    `t25`.`seq_m0_purchases`,
    `t25`.`seq_m0_n_view`,
    `t25`.`seq_m0_n_cart`,
    `t25`.`seq_m0_n_remove_from_cart`,
    `t25`.`seq_m0_spend`,
    `t25`.`seq_m0_sessions`,
    `t25`.`seq_m0_products`,
    `t25`.`seq_m1_events`,
    `t25`.`seq_m1_active_days`,
    `t25`.`seq_m1_purchases`,
    `t25`.`seq_m1_n_view`,
    `t25`.`seq_m1_n_cart`,
    `t25`.`seq_m1_n_remove_from_cart`,
    `t25`.`seq_m1_spend`,
    `t25`.`seq_m1_sessions`,
    `t25`.`seq_m1_products`,
    `t25`.`seq_m2_events`,
    `t25`.`seq_m2_active_days`,
    `t25`.`seq_m2_purchases`,
    `t25`.`seq_m2_n_view`,
    `t25`.`seq_m2_n_cart`,
    `t25`.`seq_m2_n_remove_from_cart`,
    `t25`.`seq_m2_spend`,
    `t25`.`seq_m2_sessions`,
    `t25`.`seq_m2_products`
  FROM (
    SELECT
      `t37`.*
      EXCEPT (`customer_id_right`)
    FROM (
      SELECT
        `t36`.`customer_id`,
        `t36`.`n_events`,
        `t36`.`tenure_days`,
        `t36`.`recency_days`,
        `t36`.`n_purchase_events`,
        `t36`.`purchase_recency_days`,
        `t36`.`purchase_tenure_days`,
        `t36`.`quantity`,
        `t36`.`spend`,
        `t36`.`max_order_line`,
        `t36`.`n_returns`,
        `t36`.`events_7d`,
        `t36`.`spend_7d`,
        `t36`.`events_30d`,
        `t36`.`spend_30d`,
        `t36`.`events_90d`,
        `t36`.`spend_90d`,
        `t36`.`n_view`,
        `t36`.`n_cart`,
        `t36`.`n_remove_from_cart`,
        `t36`.`n_purchase`,
        `t36`.`weekend_share`,
        `t36`.`hour_night_share`,
        `t36`.`hour_morning_share`,
        `t36`.`hour_afternoon_share`,
        `t36`.`hour_evening_share`,
        `t36`.`distinct_products`,
        `t36`.`distinct_brands`,
        `t36`.`distinct_categories`,
        `t36`.`active_days`,
        `t36`.`purchase_days`,
        `t36`.`n_orders`,
        `t36`.`orders_7d`,
        `t36`.`orders_30d`,
        `t36`.`orders_90d`,
        `t36`.`avg_order_value`,
        `t36`.`return_share`,
        `t36`.`trend_events`,
        `t36`.`trend_orders`,
        `t36`.`events_per_active_day`,
        `t36`.`share_view`,
        `t36`.`share_cart`,
        `t36`.`share_remove_from_cart`,
        `t36`.`share_purchase`,
        `t36`.`cart_per_view`,
        `t36`.`purchase_per_cart`,
        `t36`.`purchase_per_view`,
        `t36`.`gap_mean_days`,
        `t36`.`gap_std_days`,
        `t36`.`last_gap_days`,
        `t36`.`recency_over_gap`,
        `t13`.`customer_id` AS `customer_id_right`,
        `t13`.`n_sessions`,
        `t13`.`events_per_session`,
        `t13`.`session_minutes_mean`,
        `t13`.`session_minutes_max`,
        `t13`.`session_conversion`
      FROM (
        SELECT
          `t34`.*
          EXCEPT (`customer_id_right`)
        FROM (
          SELECT
            `t33`.`customer_id`,
            `t33`.`n_events`,
            `t33`.`tenure_days`,
            `t33`.`recency_days`,
            `t33`.`n_purchase_events`,
            `t33`.`purchase_recency_days`,
            `t33`.`purchase_tenure_days`,
            `t33`.`quantity`,
            `t33`.`spend`,
            `t33`.`max_order_line`,
            `t33`.`n_returns`,
            `t33`.`events_7d`,
            `t33`.`spend_7d`,
            `t33`.`events_30d`,
            `t33`.`spend_30d`,
            `t33`.`events_90d`,
            `t33`.`spend_90d`,
            `t33`.`n_view`,
            `t33`.`n_cart`,
            `t33`.`n_remove_from_cart`,
            `t33`.`n_purchase`,
            `t33`.`weekend_share`,
            `t33`.`hour_night_share`,
            `t33`.`hour_morning_share`,
            `t33`.`hour_afternoon_share`,
            `t33`.`hour_evening_share`,
            `t33`.`distinct_products`,
            `t33`.`distinct_brands`,
            `t33`.`distinct_categories`,
            `t33`.`active_days`,
            `t33`.`purchase_days`,
            `t33`.`n_orders`,
            `t33`.`orders_7d`,
            `t33`.`orders_30d`,
            `t33`.`orders_90d`,
            `t33`.`avg_order_value`,
            `t33`.`return_share`,
            `t33`.`trend_events`,
            `t33`.`trend_orders`,
            `t33`.`events_per_active_day`,
            `t33`.`share_view`,
            `t33`.`share_cart`,
            `t33`.`share_remove_from_cart`,
            `t33`.`share_purchase`,
            `t33`.`cart_per_view`,
            `t33`.`purchase_per_cart`,
            `t33`.`purchase_per_view`,
            `t28`.`customer_id` AS `customer_id_right`,
            `t28`.`gap_mean_days`,
            `t28`.`gap_std_days`,
            `t28`.`last_gap_days`,
            `t28`.`recency_over_gap`
          FROM (
            SELECT
              `t31`.*
              EXCEPT (`_events_last`, `_events_prev`, `_orders_last`, `_orders_prev`)
            FROM (
              SELECT
                `t30`.`customer_id`,
                `t30`.`n_events`,
                `t30`.`tenure_days`,
                `t30`.`recency_days`,
                `t30`.`n_purchase_events`,
                `t30`.`purchase_recency_days`,
                `t30`.`purchase_tenure_days`,
                `t30`.`quantity`,
                `t30`.`spend`,
                `t30`.`max_order_line`,
                `t30`.`n_returns`,
                `t30`.`events_7d`,
                `t30`.`spend_7d`,
                `t30`.`events_30d`,
                `t30`.`spend_30d`,
                `t30`.`events_90d`,
                `t30`.`spend_90d`,
                `t30`.`_events_last`,
                `t30`.`_events_prev`,
                `t30`.`n_view`,
                `t30`.`n_cart`,
                `t30`.`n_remove_from_cart`,
                `t30`.`n_purchase`,
                `t30`.`weekend_share`,
                `t30`.`hour_night_share`,
                `t30`.`hour_morning_share`,
                `t30`.`hour_afternoon_share`,
                `t30`.`hour_evening_share`,
                `t30`.`distinct_products`,
                `t30`.`distinct_brands`,
                `t30`.`distinct_categories`,
                `t30`.`active_days`,
                `t30`.`purchase_days`,
                COALESCE(`t30`.`n_orders`, 0) AS `n_orders`,
                COALESCE(`t30`.`orders_7d`, 0) AS `orders_7d`,
                COALESCE(`t30`.`orders_30d`, 0) AS `orders_30d`,
                COALESCE(`t30`.`orders_90d`, 0) AS `orders_90d`,
                COALESCE(`t30`.`_orders_last`, 0) AS `_orders_last`,
                COALESCE(`t30`.`_orders_prev`, 0) AS `_orders_prev`,
                IF(
                  COALESCE(`t30`.`n_orders`, 0) > 0,
                  ieee_divide(`t30`.`spend`, COALESCE(`t30`.`n_orders`, 0)),
                  CAST(NULL AS FLOAT64)
                ) AS `avg_order_value`,
                IF(
                  (
                    `t30`.`n_returns` + `t30`.`n_purchase_events`
                  ) > 0,
                  ieee_divide(CAST(`t30`.`n_returns` AS FLOAT64), `t30`.`n_returns` + `t30`.`n_purchase_events`),
                  CAST(NULL AS FLOAT64)
                ) AS `return_share`,
                IF(
                  (
                    `t30`.`_events_last` + `t30`.`_events_prev`
                  ) > 0,
                  ieee_divide(
                    CAST(`t30`.`_events_last` - `t30`.`_events_prev` AS FLOAT64),
                    `t30`.`_events_last` + `t30`.`_events_prev`
                  ),
                  CAST(NULL AS FLOAT64)
                ) AS `trend_events`,
                IF(
                  (
                    COALESCE(`t30`.`_orders_last`, 0) + COALESCE(`t30`.`_orders_prev`, 0)
                  ) > 0,
                  ieee_divide(
                    CAST(COALESCE(`t30`.`_orders_last`, 0) - COALESCE(`t30`.`_orders_prev`, 0) AS FLOAT64),
                    COALESCE(`t30`.`_orders_last`, 0) + COALESCE(`t30`.`_orders_prev`, 0)
                  ),
                  CAST(NULL AS FLOAT64)
                ) AS `trend_orders`,
                IF(
                  `t30`.`active_days` > 0,
                  ieee_divide(CAST(`t30`.`n_events` AS FLOAT64), `t30`.`active_days`),
                  CAST(NULL AS FLOAT64)
                ) AS `events_per_active_day`,
                IF(
                  `t30`.`n_events` > 0,
                  ieee_divide(CAST(`t30`.`n_view` AS FLOAT64), `t30`.`n_events`),
                  CAST(NULL AS FLOAT64)
                ) AS `share_view`,
                IF(
                  `t30`.`n_events` > 0,
                  ieee_divide(CAST(`t30`.`n_cart` AS FLOAT64), `t30`.`n_events`),
                  CAST(NULL AS FLOAT64)
                ) AS `share_cart`,
                IF(
                  `t30`.`n_events` > 0,
                  ieee_divide(CAST(`t30`.`n_remove_from_cart` AS FLOAT64), `t30`.`n_events`),
                  CAST(NULL AS FLOAT64)
                ) AS `share_remove_from_cart`,
                IF(
                  `t30`.`n_events` > 0,
                  ieee_divide(CAST(`t30`.`n_purchase` AS FLOAT64), `t30`.`n_events`),
                  CAST(NULL AS FLOAT64)
                ) AS `share_purchase`,
                IF(
                  `t30`.`n_view` > 0,
                  ieee_divide(CAST(`t30`.`n_cart` AS FLOAT64), `t30`.`n_view`),
                  CAST(NULL AS FLOAT64)
                ) AS `cart_per_view`,
                IF(
                  `t30`.`n_cart` > 0,
                  ieee_divide(CAST(`t30`.`n_purchase` AS FLOAT64), `t30`.`n_cart`),
                  CAST(NULL AS FLOAT64)
                ) AS `purchase_per_cart`,
                IF(
                  `t30`.`n_view` > 0,
                  ieee_divide(CAST(`t30`.`n_purchase` AS FLOAT64), `t30`.`n_view`),
                  CAST(NULL AS FLOAT64)
                ) AS `purchase_per_view`
              FROM (
                SELECT
                  `t29`.*
                  EXCEPT (`customer_id_right`)
                FROM (
                  SELECT
                    `t24`.`customer_id`,
                    `t24`.`n_events`,
                    `t24`.`tenure_days`,
                    `t24`.`recency_days`,
                    `t24`.`n_purchase_events`,
                    `t24`.`purchase_recency_days`,
                    `t24`.`purchase_tenure_days`,
                    `t24`.`quantity`,
                    `t24`.`spend`,
                    `t24`.`max_order_line`,
                    `t24`.`n_returns`,
                    `t24`.`events_7d`,
                    `t24`.`spend_7d`,
                    `t24`.`events_30d`,
                    `t24`.`spend_30d`,
                    `t24`.`events_90d`,
                    `t24`.`spend_90d`,
                    `t24`.`_events_last`,
                    `t24`.`_events_prev`,
                    `t24`.`n_view`,
                    `t24`.`n_cart`,
                    `t24`.`n_remove_from_cart`,
                    `t24`.`n_purchase`,
                    `t24`.`weekend_share`,
                    `t24`.`hour_night_share`,
                    `t24`.`hour_morning_share`,
                    `t24`.`hour_afternoon_share`,
                    `t24`.`hour_evening_share`,
                    `t24`.`distinct_products`,
                    `t24`.`distinct_brands`,
                    `t24`.`distinct_categories`,
                    `t24`.`active_days`,
                    `t24`.`purchase_days`,
                    `t20`.`customer_id` AS `customer_id_right`,
                    `t20`.`n_orders`,
                    `t20`.`orders_7d`,
                    `t20`.`orders_30d`,
                    `t20`.`orders_90d`,
                    `t20`.`_orders_last`,
                    `t20`.`_orders_prev`
                  FROM (
                    SELECT
                      `t21`.*
                      EXCEPT (`customer_id_right`)
                    FROM (
                      SELECT
                        `t19`.`customer_id`,
                        `t19`.`n_events`,
                        `t19`.`tenure_days`,
                        `t19`.`recency_days`,
                        `t19`.`n_purchase_events`,
                        `t19`.`purchase_recency_days`,
                        `t19`.`purchase_tenure_days`,
                        `t19`.`quantity`,
                        `t19`.`spend`,
                        `t19`.`max_order_line`,
                        `t19`.`n_returns`,
                        `t19`.`events_7d`,
                        `t19`.`spend_7d`,
                        `t19`.`events_30d`,
                        `t19`.`spend_30d`,
                        `t19`.`events_90d`,
                        `t19`.`spend_90d`,
                        `t19`.`_events_last`,
                        `t19`.`_events_prev`,
                        `t19`.`n_view`,
                        `t19`.`n_cart`,
                        `t19`.`n_remove_from_cart`,
                        `t19`.`n_purchase`,
                        `t19`.`weekend_share`,
                        `t19`.`hour_night_share`,
                        `t19`.`hour_morning_share`,
                        `t19`.`hour_afternoon_share`,
                        `t19`.`hour_evening_share`,
                        `t19`.`distinct_products`,
                        `t19`.`distinct_brands`,
                        `t19`.`distinct_categories`,
                        `t14`.`customer_id` AS `customer_id_right`,
                        `t14`.`active_days`,
                        `t14`.`purchase_days`
                      FROM (
                        SELECT
                          `t5`.`customer_id`,
                          COUNT(*) AS `n_events`,
                          MAX(`t5`.`_age`) AS `tenure_days`,
                          MIN(`t5`.`_age`) AS `recency_days`,
                          COUNT(IF(`t5`.`_buy`, 1, CAST(NULL AS INT64))) AS `n_purchase_events`,
                          MIN(IF(`t5`.`_buy`, `t5`.`_age`, CAST(NULL AS FLOAT64))) AS `purchase_recency_days`,
                          MAX(IF(`t5`.`_buy`, `t5`.`_age`, CAST(NULL AS FLOAT64))) AS `purchase_tenure_days`,
                          COALESCE(SUM(IF(`t5`.`_buy`, `t5`.`quantity`, CAST(NULL AS FLOAT64))), 0) AS `quantity`,
                          COALESCE(SUM(IF(`t5`.`_buy`, `t5`.`amount`, CAST(NULL AS FLOAT64))), 0) AS `spend`,
                          MAX(IF(`t5`.`_buy`, `t5`.`amount`, CAST(NULL AS FLOAT64))) AS `max_order_line`,
                          COUNT(IF(`t5`.`event_type` = 'return', 1, CAST(NULL AS INT64))) AS `n_returns`,
                          COUNT(IF(`t5`.`_age` <= 7, 1, CAST(NULL AS INT64))) AS `events_7d`,
                          COALESCE(
                            SUM(IF((
                              `t5`.`_age` <= 7
                            ) AND `t5`.`_buy`, `t5`.`amount`, CAST(NULL AS FLOAT64))),
                            0
                          ) AS `spend_7d`,
                          COUNT(IF(`t5`.`_age` <= 30, 1, CAST(NULL AS INT64))) AS `events_30d`,
                          COALESCE(
                            SUM(
                              IF((
                                `t5`.`_age` <= 30
                              ) AND `t5`.`_buy`, `t5`.`amount`, CAST(NULL AS FLOAT64))
                            ),
                            0
                          ) AS `spend_30d`,
                          COUNT(IF(`t5`.`_age` <= 90, 1, CAST(NULL AS INT64))) AS `events_90d`,
                          COALESCE(
                            SUM(
                              IF((
                                `t5`.`_age` <= 90
                              ) AND `t5`.`_buy`, `t5`.`amount`, CAST(NULL AS FLOAT64))
                            ),
                            0
                          ) AS `spend_90d`,
                          COUNT(IF(`t5`.`_age` <= 30, 1, CAST(NULL AS INT64))) AS `_events_last`,
                          COUNT(IF((
                            `t5`.`_age` > 30
                          ) AND (
                            `t5`.`_age` <= 60
                          ), 1, CAST(NULL AS INT64))) AS `_events_prev`,
                          COUNT(IF(`t5`.`event_type` = 'view', 1, CAST(NULL AS INT64))) AS `n_view`,
                          COUNT(IF(`t5`.`event_type` = 'cart', 1, CAST(NULL AS INT64))) AS `n_cart`,
                          COUNT(IF(`t5`.`event_type` = 'remove_from_cart', 1, CAST(NULL AS INT64))) AS `n_remove_from_cart`,
                          COUNT(IF(`t5`.`event_type` = 'purchase', 1, CAST(NULL AS INT64))) AS `n_purchase`,
                          AVG(
                            CAST(IF((
                              MOD(EXTRACT(dayofweek FROM `t5`.`event_time`) + 5, 7)
                            ) >= 5, 1, 0) AS FLOAT64)
                          ) AS `weekend_share`,
                          AVG(
                            CAST(IF(
                              (
                                EXTRACT(hour FROM `t5`.`event_time`) >= 0
                              )
                              AND (
                                EXTRACT(hour FROM `t5`.`event_time`) < 6
                              ),
                              1,
                              0
                            ) AS FLOAT64)
                          ) AS `hour_night_share`,
                          AVG(
                            CAST(IF(
                              (
                                EXTRACT(hour FROM `t5`.`event_time`) >= 6
                              )
                              AND (
                                EXTRACT(hour FROM `t5`.`event_time`) < 12
                              ),
                              1,
                              0
                            ) AS FLOAT64)
                          ) AS `hour_morning_share`,
                          AVG(
                            CAST(IF(
                              (
                                EXTRACT(hour FROM `t5`.`event_time`) >= 12
                              )
                              AND (
                                EXTRACT(hour FROM `t5`.`event_time`) < 18
                              ),
                              1,
                              0
                            ) AS FLOAT64)
                          ) AS `hour_afternoon_share`,
                          AVG(
                            CAST(IF(
                              (
                                EXTRACT(hour FROM `t5`.`event_time`) >= 18
                              )
                              AND (
                                EXTRACT(hour FROM `t5`.`event_time`) < 24
                              ),
                              1,
                              0
                            ) AS FLOAT64)
                          ) AS `hour_evening_share`,
                          COUNT(DISTINCT `t5`.`product_id`) AS `distinct_products`,
                          COUNT(DISTINCT `t5`.`brand`) AS `distinct_brands`,
                          COUNT(DISTINCT `t5`.`category`) AS `distinct_categories`
                        FROM `t4` AS `t5`
                        GROUP BY
                          1
                      ) AS `t19`
                      LEFT OUTER JOIN (
                        SELECT
                          `t8`.`customer_id`,
                          COUNT(*) AS `active_days`,
                          COUNT(IF(`t8`.`_bought`, 1, CAST(NULL AS INT64))) AS `purchase_days`
                        FROM (
                          SELECT
                            `t5`.`customer_id`,
                            `t5`.`_day`,
                            LOGICAL_OR(`t5`.`_buy`) AS `_bought`
                          FROM `t4` AS `t5`
                          GROUP BY
                            1,
                            2
                        ) AS `t8`
                        GROUP BY
                          1
                      ) AS `t14`
                        ON `t19`.`customer_id` = `t14`.`customer_id`
                    ) AS `t21`
                  ) AS `t24`
                  LEFT OUTER JOIN (
                    SELECT
                      `t9`.`customer_id`,
                      COUNT(*) AS `n_orders`,
                      COUNT(IF(`t9`.`_newest` <= 7, 1, CAST(NULL AS INT64))) AS `orders_7d`,
                      COUNT(IF(`t9`.`_newest` <= 30, 1, CAST(NULL AS INT64))) AS `orders_30d`,
                      COUNT(IF(`t9`.`_newest` <= 90, 1, CAST(NULL AS INT64))) AS `orders_90d`,
                      COUNT(IF(`t9`.`_newest` <= 30, 1, CAST(NULL AS INT64))) AS `_orders_last`,
                      COUNT(IF(`t9`.`_in_prev`, 1, CAST(NULL AS INT64))) AS `_orders_prev`
                    FROM (
                      SELECT
                        `t3`.`customer_id`,
                        `t3`.`order_id`,
                        MIN(`t3`.`_age`) AS `_newest`,
                        LOGICAL_OR((
                          `t3`.`_age` > 30
                        ) AND (
                          `t3`.`_age` <= 60
                        )) AS `_in_prev`
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
                          ieee_divide(CAST(1577836800 - UNIX_SECONDS(`t0`.`event_time`) AS FLOAT64), 86400) AS `_age`,
                          TIMESTAMP_TRUNC(`t0`.`event_time`, DAY) AS `_day`,
                          `t0`.`event_type` = 'purchase' AS `_buy`
                        FROM `events` AS `t0`
                        WHERE
                          `t0`.`event_time` < DATETIME('2020-01-01T00:00:00')
                          AND `t0`.`event_type` = 'purchase'
                          AND `t0`.`order_id` IS NOT NULL
                      ) AS `t3`
                      GROUP BY
                        1,
                        2
                    ) AS `t9`
                    GROUP BY
                      1
                  ) AS `t20`
                    ON `t24`.`customer_id` = `t20`.`customer_id`
                ) AS `t29`
              ) AS `t30`
            ) AS `t31`
          ) AS `t33`
          LEFT OUTER JOIN (
            SELECT
              `t26`.*
              EXCEPT (`_last_day`)
            FROM (
              SELECT
                `t16`.`customer_id`,
                `t16`.`gap_mean_days`,
                `t16`.`gap_std_days`,
                `t16`.`last_gap_days`,
                `t16`.`_last_day`,
                IF(
                  `t16`.`gap_mean_days` > 0,
                  ieee_divide(
                    ieee_divide(CAST(1577836800 - UNIX_SECONDS(`t16`.`_last_day`) AS FLOAT64), 86400),
                    `t16`.`gap_mean_days`
                  ),
                  CAST(NULL AS FLOAT64)
                ) AS `recency_over_gap`
              FROM (
                SELECT
                  `t10`.`customer_id`,
                  AVG(`t10`.`gap`) AS `gap_mean_days`,
                  STDDEV_SAMP(`t10`.`gap`) AS `gap_std_days`,
                  MAX(IF(`t10`.`is_last`, `t10`.`gap`, CAST(NULL AS FLOAT64))) AS `last_gap_days`,
                  MAX(`t10`.`day`) AS `_last_day`
                FROM (
                  SELECT
                    `t1`.`customer_id`,
                    `t1`.`day`,
                    ieee_divide(
                      CAST(UNIX_SECONDS(`t1`.`day`) - UNIX_SECONDS(LAG(`t1`.`day`) OVER (PARTITION BY `t1`.`customer_id` ORDER BY `t1`.`day` ASC)) AS FLOAT64),
                      86400
                    ) AS `gap`,
                    LEAD(`t1`.`day`) OVER (PARTITION BY `t1`.`customer_id` ORDER BY `t1`.`day` ASC) IS NULL AS `is_last`
                  FROM (
                    SELECT DISTINCT
                      `t0`.`customer_id`,
                      TIMESTAMP_TRUNC(`t0`.`event_time`, DAY) AS `day`
                    FROM `events` AS `t0`
                    WHERE
                      `t0`.`event_time` < DATETIME('2020-01-01T00:00:00')
                      AND `t0`.`event_type` = 'purchase'
                  ) AS `t1`
                ) AS `t10`
                GROUP BY
                  1
              ) AS `t16`
            ) AS `t26`
          ) AS `t28`
            ON `t33`.`customer_id` = `t28`.`customer_id`
        ) AS `t34`
      ) AS `t36`
      LEFT OUTER JOIN (
        SELECT
          `t6`.`customer_id`,
          COUNT(*) AS `n_sessions`,
          AVG(`t6`.`events`) AS `events_per_session`,
          AVG(ieee_divide(CAST(`t6`.`seconds` AS FLOAT64), 60)) AS `session_minutes_mean`,
          MAX(ieee_divide(CAST(`t6`.`seconds` AS FLOAT64), 60)) AS `session_minutes_max`,
          AVG(CAST(IF(`t6`.`converted`, 1, 0) AS FLOAT64)) AS `session_conversion`
        FROM (
          SELECT
            `t2`.`customer_id`,
            `t2`.`session_id`,
            COUNT(*) AS `events`,
            UNIX_SECONDS(MAX(`t2`.`event_time`)) - UNIX_SECONDS(MIN(`t2`.`event_time`)) AS `seconds`,
            LOGICAL_OR(`t2`.`event_type` = 'purchase') AS `converted`
          FROM (
            SELECT
              *
            FROM `events` AS `t0`
            WHERE
              `t0`.`event_time` < DATETIME('2020-01-01T00:00:00')
              AND `t0`.`session_id` IS NOT NULL
          ) AS `t2`
          GROUP BY
            1,
            2
        ) AS `t6`
        GROUP BY
          1
      ) AS `t13`
        ON `t36`.`customer_id` = `t13`.`customer_id`
    ) AS `t37`
  ) AS `t39`
  LEFT OUTER JOIN (
    SELECT
      `t17`.`customer_id`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`events`, CAST(NULL AS INT64))), 0) AS `seq_m0_events`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`active_days`, CAST(NULL AS INT64))), 0) AS `seq_m0_active_days`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`purchases`, CAST(NULL AS INT64))), 0) AS `seq_m0_purchases`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`n_view`, CAST(NULL AS INT64))), 0) AS `seq_m0_n_view`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`n_cart`, CAST(NULL AS INT64))), 0) AS `seq_m0_n_cart`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`n_remove_from_cart`, CAST(NULL AS INT64))), 0) AS `seq_m0_n_remove_from_cart`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`spend`, CAST(NULL AS FLOAT64))), 0) AS `seq_m0_spend`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`sessions`, CAST(NULL AS INT64))), 0) AS `seq_m0_sessions`,
      COALESCE(MAX(IF(`t17`.`_month` = 0, `t17`.`products`, CAST(NULL AS INT64))), 0) AS `seq_m0_products`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`events`, CAST(NULL AS INT64))), 0) AS `seq_m1_events`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`active_days`, CAST(NULL AS INT64))), 0) AS `seq_m1_active_days`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`purchases`, CAST(NULL AS INT64))), 0) AS `seq_m1_purchases`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`n_view`, CAST(NULL AS INT64))), 0) AS `seq_m1_n_view`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`n_cart`, CAST(NULL AS INT64))), 0) AS `seq_m1_n_cart`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`n_remove_from_cart`, CAST(NULL AS INT64))), 0) AS `seq_m1_n_remove_from_cart`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`spend`, CAST(NULL AS FLOAT64))), 0) AS `seq_m1_spend`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`sessions`, CAST(NULL AS INT64))), 0) AS `seq_m1_sessions`,
      COALESCE(MAX(IF(`t17`.`_month` = 1, `t17`.`products`, CAST(NULL AS INT64))), 0) AS `seq_m1_products`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`events`, CAST(NULL AS INT64))), 0) AS `seq_m2_events`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`active_days`, CAST(NULL AS INT64))), 0) AS `seq_m2_active_days`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`purchases`, CAST(NULL AS INT64))), 0) AS `seq_m2_purchases`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`n_view`, CAST(NULL AS INT64))), 0) AS `seq_m2_n_view`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`n_cart`, CAST(NULL AS INT64))), 0) AS `seq_m2_n_cart`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`n_remove_from_cart`, CAST(NULL AS INT64))), 0) AS `seq_m2_n_remove_from_cart`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`spend`, CAST(NULL AS FLOAT64))), 0) AS `seq_m2_spend`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`sessions`, CAST(NULL AS INT64))), 0) AS `seq_m2_sessions`,
      COALESCE(MAX(IF(`t17`.`_month` = 2, `t17`.`products`, CAST(NULL AS INT64))), 0) AS `seq_m2_products`
    FROM (
      SELECT
        `t7`.`customer_id`,
        `t7`.`_month`,
        COUNT(*) AS `events`,
        COUNT(DISTINCT `t7`.`_day`) AS `active_days`,
        COUNT(IF(`t7`.`event_type` = 'purchase', 1, CAST(NULL AS INT64))) AS `purchases`,
        COUNT(IF(`t7`.`event_type` = 'view', 1, CAST(NULL AS INT64))) AS `n_view`,
        COUNT(IF(`t7`.`event_type` = 'cart', 1, CAST(NULL AS INT64))) AS `n_cart`,
        COUNT(IF(`t7`.`event_type` = 'remove_from_cart', 1, CAST(NULL AS INT64))) AS `n_remove_from_cart`,
        COALESCE(SUM(IF(`t7`.`event_type` = 'purchase', `t7`.`amount`, CAST(NULL AS FLOAT64))), 0) AS `spend`,
        COUNT(DISTINCT `t7`.`session_id`) AS `sessions`,
        COUNT(DISTINCT `t7`.`product_id`) AS `products`
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
          CAST(CAST(FLOOR(
            ieee_divide(
              ieee_divide(CAST(1577836800 - UNIX_SECONDS(`t0`.`event_time`) AS FLOAT64), 86400),
              30
            )
          ) AS INT64) AS INT64) AS `_month`,
          TIMESTAMP_TRUNC(`t0`.`event_time`, DAY) AS `_day`
        FROM `events` AS `t0`
        WHERE
          `t0`.`event_time` < DATETIME('2020-01-01T00:00:00')
          AND CAST(CAST(FLOOR(
            ieee_divide(
              ieee_divide(CAST(1577836800 - UNIX_SECONDS(`t0`.`event_time`) AS FLOAT64), 86400),
              30
            )
          ) AS INT64) AS INT64) < 3
      ) AS `t7`
      GROUP BY
        1,
        2
    ) AS `t17`
    GROUP BY
      1
  ) AS `t25`
    ON `t39`.`customer_id` = `t25`.`customer_id`
) AS `t40`
